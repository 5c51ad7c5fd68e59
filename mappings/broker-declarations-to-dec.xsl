<?xml version="1.0" encoding="UTF-8"?>
<!--
  Customs broker's declaration drafts (xsd/partners/broker-declarations.xsd) → DecMessage
  (xsd/dec/dec.xsd), one per Draft, as portgate hands it to the declaration client before customs numbers
  it (no SeqNo / EntryId). Field by field: docs/partners/broker-declarations.md.

  - ClientSeqNo (the key receipts come back with, FORMATS.md §1) is the broker's jobNo.
  - ISO currencies / countries and unit abbreviations go through pg:code (an unknown one stops the mapping:
    PG-306); "pcs" is the broker's word for 件 (011), which the unit table has no alias for.
  - The agent (申报单位) and the entering unit (DecSign/CopCode) come from the route's parameters
    (agentCode, agentName, agentScc, copCode) unless the draft names its own agent.
  - Goods lines are renumbered 1, 2, 3 … (GNo) in document order; container line references are
    translated from the broker's line numbers to those GNo.
  - Element order follows samples/dec/dec-import-general-trade.xml (each DecMessage part is an xs:all,
    the parts are in FORMATS.md's order).
-->
<xsl:stylesheet version="1.0"
                xmlns:xsl="http://www.w3.org/1999/XSL/Transform"
                xmlns:b="urn:portgate:partner:broker-declarations:1"
                xmlns:pg="urn:portgate:xpath"
                xmlns:out="urn:portgate:mapping"
                xmlns="http://www.chinaport.gov.cn/dec"
                extension-element-prefixes="pg"
                exclude-result-prefixes="b pg">

  <xsl:output method="xml" encoding="UTF-8" indent="yes"/>

  <xsl:variable name="lower" select="'abcdefghijklmnopqrstuvwxyz'"/>
  <xsl:variable name="upper" select="'ABCDEFGHIJKLMNOPQRSTUVWXYZ'"/>

  <xsl:template match="/b:DeclarationDrafts">
    <out:outputs>
      <xsl:for-each select="b:Draft">
        <out:output>
          <xsl:apply-templates select="."/>
        </out:output>
      </xsl:for-each>
    </out:outputs>
  </xsl:template>

  <xsl:template match="/*" priority="-1">
    <xsl:message terminate="yes">the document element must be DeclarationDrafts in urn:portgate:partner:broker-declarations:1</xsl:message>
  </xsl:template>

  <!-- ============================================================================================ -->
  <xsl:template match="b:Draft">
    <xsl:variable name="job" select="b:jobNo"/>
    <xsl:variable name="ie">
      <xsl:choose>
        <xsl:when test="b:direction = 'IMPORT'">I</xsl:when>
        <xsl:otherwise>E</xsl:otherwise>
      </xsl:choose>
    </xsl:variable>

    <!-- Container references must name goods lines of this draft. -->
    <xsl:for-each select="b:containers/b:container">
      <xsl:call-template name="check-line-refs">
        <xsl:with-param name="list" select="normalize-space(b:lineNos)"/>
        <xsl:with-param name="draft" select="../.."/>
        <xsl:with-param name="where" select="concat('Draft ', $job, ' container ', b:number, ' lineNos')"/>
      </xsl:call-template>
    </xsl:for-each>
    <xsl:for-each select="b:items/b:item">
      <xsl:if test="count(../b:item[b:lineNo = current()/b:lineNo]) &gt; 1">
        <xsl:message terminate="yes">Draft <xsl:value-of select="$job"/> items: lineNo <xsl:value-of select="b:lineNo"/> is used by more than one item (containers could not refer to it)</xsl:message>
      </xsl:if>
    </xsl:for-each>

    <DecMessage version="4.5">
      <DecHead>
        <IEFlag><xsl:value-of select="$ie"/></IEFlag>
        <CustomMaster><xsl:value-of select="b:declareOffice"/></CustomMaster>
        <IEPort><xsl:value-of select="b:port"/></IEPort>
        <xsl:if test="b:ieDate">
          <IEDate><xsl:value-of select="translate(substring(b:ieDate, 1, 10), '-', '')"/></IEDate>
        </xsl:if>
        <xsl:if test="b:accountBookNo">
          <ManualNo><xsl:value-of select="b:accountBookNo"/></ManualNo>
        </xsl:if>
        <xsl:if test="b:contractNo">
          <ContrNo><xsl:value-of select="b:contractNo"/></ContrNo>
        </xsl:if>
        <xsl:if test="b:billOfLading">
          <BillNo><xsl:value-of select="b:billOfLading"/></BillNo>
        </xsl:if>
        <TradeCode><xsl:value-of select="b:domesticParty/b:customsCode"/></TradeCode>
        <TradeName><xsl:value-of select="b:domesticParty/b:name"/></TradeName>
        <TradeCodeScc><xsl:value-of select="b:domesticParty/b:uscc"/></TradeCodeScc>
        <xsl:choose>
          <xsl:when test="b:owner">
            <xsl:if test="b:owner/b:customsCode">
              <OwnerCode><xsl:value-of select="b:owner/b:customsCode"/></OwnerCode>
            </xsl:if>
            <OwnerName><xsl:value-of select="b:owner/b:name"/></OwnerName>
            <xsl:if test="b:owner/b:uscc">
              <OwnerCodeScc><xsl:value-of select="b:owner/b:uscc"/></OwnerCodeScc>
            </xsl:if>
          </xsl:when>
          <xsl:otherwise>
            <OwnerCode><xsl:value-of select="b:domesticParty/b:customsCode"/></OwnerCode>
            <OwnerName><xsl:value-of select="b:domesticParty/b:name"/></OwnerName>
            <OwnerCodeScc><xsl:value-of select="b:domesticParty/b:uscc"/></OwnerCodeScc>
          </xsl:otherwise>
        </xsl:choose>
        <xsl:choose>
          <xsl:when test="b:agent">
            <AgentCode><xsl:value-of select="b:agent/b:customsCode"/></AgentCode>
            <AgentName><xsl:value-of select="b:agent/b:name"/></AgentName>
            <AgentCodeScc><xsl:value-of select="b:agent/b:uscc"/></AgentCodeScc>
          </xsl:when>
          <xsl:otherwise>
            <AgentCode><xsl:value-of select="pg:param('agentCode')"/></AgentCode>
            <AgentName><xsl:value-of select="pg:param('agentName')"/></AgentName>
            <AgentCodeScc><xsl:value-of select="pg:param('agentScc')"/></AgentCodeScc>
          </xsl:otherwise>
        </xsl:choose>
        <TradeMode><xsl:value-of select="b:tradeMode"/></TradeMode>
        <xsl:if test="b:exemptionNature">
          <CutMode><xsl:value-of select="b:exemptionNature"/></CutMode>
        </xsl:if>
        <TrafMode>
          <xsl:call-template name="transport-mode">
            <xsl:with-param name="mode" select="normalize-space(b:transport/b:mode)"/>
          </xsl:call-template>
        </TrafMode>
        <xsl:if test="b:transport/b:vessel">
          <TrafName><xsl:value-of select="b:transport/b:vessel"/></TrafName>
        </xsl:if>
        <TransMode>
          <xsl:choose>
            <xsl:when test="b:incoterm = 'CIF'">1</xsl:when>
            <xsl:when test="b:incoterm = 'CFR'">2</xsl:when>
            <xsl:when test="b:incoterm = 'FOB'">3</xsl:when>
            <xsl:when test="b:incoterm = 'CI'">4</xsl:when>
            <xsl:when test="b:incoterm = 'EXW'">7</xsl:when>
            <xsl:otherwise>
              <xsl:message terminate="yes">Draft <xsl:value-of select="$job"/> incoterm '<xsl:value-of select="b:incoterm"/>' has no customs TransMode</xsl:message>
            </xsl:otherwise>
          </xsl:choose>
        </TransMode>
        <TradeCountry><xsl:value-of select="pg:code('country', b:tradeCountry)"/></TradeCountry>
        <xsl:if test="b:destinationPort">
          <DistinatePort><xsl:value-of select="b:destinationPort"/></DistinatePort>
        </xsl:if>
        <xsl:if test="b:packages/b:typeCode">
          <WrapType><xsl:value-of select="b:packages/b:typeCode"/></WrapType>
        </xsl:if>
        <PackNo><xsl:value-of select="number(b:packages/b:count)"/></PackNo>
        <GrossWet><xsl:value-of select="pg:round(b:grossWeightKg, 5)"/></GrossWet>
        <NetWt><xsl:value-of select="pg:round(b:netWeightKg, 5)"/></NetWt>
        <xsl:apply-templates select="b:freight">
          <xsl:with-param name="prefix" select="'Fee'"/>
        </xsl:apply-templates>
        <xsl:apply-templates select="b:insurance">
          <xsl:with-param name="prefix" select="'Insur'"/>
        </xsl:apply-templates>
        <xsl:apply-templates select="b:otherCharges">
          <xsl:with-param name="prefix" select="'Other'"/>
        </xsl:apply-templates>
        <!-- M: paperless declaration (通关无纸化); 0: a declaration, not a transit (转关) one. -->
        <EntryType>M</EntryType>
        <DeclTrnRel>0</DeclTrnRel>
        <xsl:if test="b:priceConfirmations">
          <PromiseItmes>
            <xsl:for-each select="b:priceConfirmations/*">
              <xsl:choose>
                <xsl:when test="normalize-space(.) = 'true' or normalize-space(.) = '1'">1</xsl:when>
                <xsl:otherwise>0</xsl:otherwise>
              </xsl:choose>
            </xsl:for-each>
          </PromiseItmes>
        </xsl:if>
        <InputerName>
          <xsl:choose>
            <xsl:when test="b:operator/b:preparedBy"><xsl:value-of select="b:operator/b:preparedBy"/></xsl:when>
            <xsl:otherwise><xsl:value-of select="b:operator/b:name"/></xsl:otherwise>
          </xsl:choose>
        </InputerName>
        <xsl:if test="b:remarks">
          <NoteS><xsl:value-of select="b:remarks"/></NoteS>
        </xsl:if>
      </DecHead>
      <DecLists>
        <xsl:apply-templates select="b:items/b:item"/>
      </DecLists>
      <xsl:if test="b:containers">
        <DecContainers>
          <xsl:apply-templates select="b:containers/b:container"/>
        </DecContainers>
      </xsl:if>
      <xsl:if test="b:licences">
        <DecLicenseDocus>
          <xsl:for-each select="b:licences/b:licence">
            <LicenseDocu>
              <DocuCode><xsl:value-of select="b:code"/></DocuCode>
              <CertCode><xsl:value-of select="b:number"/></CertCode>
            </LicenseDocu>
          </xsl:for-each>
        </DecLicenseDocus>
      </xsl:if>
      <xsl:if test="b:transport/b:voyage or b:operator/b:phone">
        <DecFreeTxt>
          <xsl:if test="b:transport/b:voyage">
            <VoyNo><xsl:value-of select="b:transport/b:voyage"/></VoyNo>
          </xsl:if>
          <xsl:if test="b:operator/b:phone">
            <DecBpNo><xsl:value-of select="b:operator/b:phone"/></DecBpNo>
          </xsl:if>
        </DecFreeTxt>
      </xsl:if>
      <DecSign>
        <OperType>
          <xsl:choose>
            <xsl:when test="b:action = 'HOLD'">G</xsl:when>
            <xsl:when test="b:action = 'UPLOAD'">A</xsl:when>
            <xsl:otherwise>C</xsl:otherwise>
          </xsl:choose>
        </OperType>
        <ClientSeqNo><xsl:value-of select="$job"/></ClientSeqNo>
        <CopCode><xsl:value-of select="pg:param('copCode')"/></CopCode>
        <ICCode><xsl:value-of select="b:operator/b:icCard"/></ICCode>
        <OperName><xsl:value-of select="b:operator/b:name"/></OperName>
        <SignDate><xsl:value-of select="pg:now('yyyyMMddHHmmss')"/></SignDate>
      </DecSign>
    </DecMessage>
  </xsl:template>

  <!-- ============================================================================================ -->
  <!-- One goods line. -->
  <xsl:template match="b:item">
    <DecList>
      <GNo><xsl:value-of select="position()"/></GNo>
      <xsl:if test="b:bookItemNo">
        <ContrItem><xsl:value-of select="b:bookItemNo"/></ContrItem>
      </xsl:if>
      <CodeTS><xsl:value-of select="b:hsCode"/></CodeTS>
      <GName><xsl:value-of select="b:name"/></GName>
      <GModel><xsl:value-of select="b:spec"/></GModel>
      <GQty><xsl:value-of select="pg:round(b:qty, 5)"/></GQty>
      <GUnit><xsl:call-template name="unit"><xsl:with-param name="u" select="b:unit"/></xsl:call-template></GUnit>
      <FirstQty><xsl:value-of select="pg:round(b:legalQty, 5)"/></FirstQty>
      <FirstUnit><xsl:call-template name="unit"><xsl:with-param name="u" select="b:legalUnit"/></xsl:call-template></FirstUnit>
      <xsl:if test="b:secondQty">
        <SecondQty><xsl:value-of select="pg:round(b:secondQty, 5)"/></SecondQty>
      </xsl:if>
      <xsl:if test="b:secondUnit">
        <SecondUnit><xsl:call-template name="unit"><xsl:with-param name="u" select="b:secondUnit"/></xsl:call-template></SecondUnit>
      </xsl:if>
      <DeclPrice><xsl:value-of select="pg:round(b:unitPrice, 4)"/></DeclPrice>
      <DeclTotal><xsl:value-of select="pg:round(b:lineTotal, 2)"/></DeclTotal>
      <TradeCurr><xsl:value-of select="pg:code('currency', b:currency)"/></TradeCurr>
      <OriginCountry><xsl:value-of select="pg:code('country', b:originCountry)"/></OriginCountry>
      <DestinationCountry><xsl:value-of select="pg:code('country', b:destinationCountry)"/></DestinationCountry>
      <xsl:if test="b:districtCode">
        <DistrictCode><xsl:value-of select="b:districtCode"/></DistrictCode>
      </xsl:if>
      <DutyMode><xsl:value-of select="b:dutyMode"/></DutyMode>
    </DecList>
  </xsl:template>

  <!-- One container; GoodsNo lists the GNo of its lines ("1,2,3"). -->
  <xsl:template match="b:container">
    <Container>
      <ContainerId><xsl:value-of select="b:number"/></ContainerId>
      <ContainerMd><xsl:value-of select="b:sizeType"/></ContainerMd>
      <GoodsNo>
        <xsl:call-template name="gnos">
          <xsl:with-param name="list" select="normalize-space(b:lineNos)"/>
          <xsl:with-param name="items" select="../../b:items/b:item"/>
        </xsl:call-template>
      </GoodsNo>
      <xsl:if test="b:lcl">
        <LclFlag>
          <xsl:choose>
            <xsl:when test="normalize-space(b:lcl) = 'true' or normalize-space(b:lcl) = '1'">1</xsl:when>
            <xsl:otherwise>0</xsl:otherwise>
          </xsl:choose>
        </LclFlag>
      </xsl:if>
      <xsl:if test="b:weightKg">
        <GoodsContaWt><xsl:value-of select="pg:round(b:weightKg, 5)"/></GoodsContaWt>
      </xsl:if>
    </Container>
  </xsl:template>

  <!-- Freight / insurance / other charges: FeeMark 1 rate, 2 per ton, 3 total; a currency except for a rate. -->
  <xsl:template match="b:freight | b:insurance | b:otherCharges">
    <xsl:param name="prefix"/>
    <xsl:variable name="mark">
      <xsl:choose>
        <xsl:when test="@basis = 'rate'">1</xsl:when>
        <xsl:when test="@basis = 'perTon'">2</xsl:when>
        <xsl:otherwise>3</xsl:otherwise>
      </xsl:choose>
    </xsl:variable>
    <xsl:if test="$mark != '1' and not(@currency)">
      <xsl:message terminate="yes">Draft <xsl:value-of select="../b:jobNo"/> <xsl:value-of select="concat(' ', local-name())"/>: basis '<xsl:value-of select="@basis"/>' needs a currency attribute (only a rate has none)</xsl:message>
    </xsl:if>
    <xsl:element name="{$prefix}Mark"><xsl:value-of select="$mark"/></xsl:element>
    <xsl:element name="{$prefix}Rate"><xsl:value-of select="pg:round(., 5)"/></xsl:element>
    <xsl:if test="$mark != '1'">
      <xsl:element name="{$prefix}Curr"><xsl:value-of select="pg:code('currency', @currency)"/></xsl:element>
    </xsl:if>
  </xsl:template>

  <!-- ============================================================================================ -->
  <!-- Code translations that are the broker's own (not in xsd/codes/). -->

  <!-- Transport: the broker's words, else a customs code checked against transport-mode.tsv. -->
  <xsl:template name="transport-mode">
    <xsl:param name="mode"/>
    <xsl:choose>
      <xsl:when test="$mode = 'SEA'">2</xsl:when>
      <xsl:when test="$mode = 'RAIL'">3</xsl:when>
      <xsl:when test="$mode = 'ROAD'">4</xsl:when>
      <xsl:when test="$mode = 'AIR'">5</xsl:when>
      <xsl:when test="$mode = 'POST'">6</xsl:when>
      <xsl:when test="$mode = 'OTHER'">9</xsl:when>
      <xsl:otherwise><xsl:value-of select="pg:code('transport-mode', $mode)"/></xsl:otherwise>
    </xsl:choose>
  </xsl:template>

  <!-- Units: "pcs" (and its spellings) is 件 011; everything else through the unit table (kg, set, a code). -->
  <xsl:template name="unit">
    <xsl:param name="u"/>
    <xsl:variable name="l" select="translate(normalize-space($u), $upper, $lower)"/>
    <xsl:choose>
      <xsl:when test="$l = 'pcs' or $l = 'pc' or $l = 'piece' or $l = 'pieces'">011</xsl:when>
      <xsl:otherwise><xsl:value-of select="pg:code('unit', $u)"/></xsl:otherwise>
    </xsl:choose>
  </xsl:template>

  <!-- "10 20 30" (broker line numbers) → "1,2,3" (GNo = position among the items). -->
  <xsl:template name="gnos">
    <xsl:param name="list"/>
    <xsl:param name="items"/>
    <xsl:variable name="first">
      <xsl:choose>
        <xsl:when test="contains($list, ' ')"><xsl:value-of select="substring-before($list, ' ')"/></xsl:when>
        <xsl:otherwise><xsl:value-of select="$list"/></xsl:otherwise>
      </xsl:choose>
    </xsl:variable>
    <xsl:value-of select="count($items[number(b:lineNo) = number($first)]/preceding-sibling::b:item) + 1"/>
    <xsl:if test="contains($list, ' ')">
      <xsl:text>,</xsl:text>
      <xsl:call-template name="gnos">
        <xsl:with-param name="list" select="substring-after($list, ' ')"/>
        <xsl:with-param name="items" select="$items"/>
      </xsl:call-template>
    </xsl:if>
  </xsl:template>

  <xsl:template name="check-line-refs">
    <xsl:param name="list"/>
    <xsl:param name="draft"/>
    <xsl:param name="where"/>
    <xsl:variable name="first">
      <xsl:choose>
        <xsl:when test="contains($list, ' ')"><xsl:value-of select="substring-before($list, ' ')"/></xsl:when>
        <xsl:otherwise><xsl:value-of select="$list"/></xsl:otherwise>
      </xsl:choose>
    </xsl:variable>
    <xsl:if test="not($draft/b:items/b:item[number(b:lineNo) = number($first)])">
      <xsl:message terminate="yes"><xsl:value-of select="$where"/>: line <xsl:value-of select="$first"/> is not a goods line of the draft (items/item/lineNo)</xsl:message>
    </xsl:if>
    <xsl:if test="contains($list, ' ')">
      <xsl:call-template name="check-line-refs">
        <xsl:with-param name="list" select="substring-after($list, ' ')"/>
        <xsl:with-param name="draft" select="$draft"/>
        <xsl:with-param name="where" select="$where"/>
      </xsl:call-template>
    </xsl:if>
  </xsl:template>

</xsl:stylesheet>
