<?xml version="1.0" encoding="UTF-8"?>
<!--
  Enrichment of native CBEC messages a partner sends ready-made (import or export family): the document
  passes through unchanged except
    - a fresh 36-character guid on the root and in every *Head (the customs exchange refuses a guid it
      has seen: a resend of a changed document needs a new one),
    - appTime = now (yyyyMMddHHmmss),
    - BaseTransfer (copCode, copName, dxpId) from the route's parameters, so the transmitting company is
      the gateway's configured one whatever the partner wrote.
  Route it with  [[route.map]] stylesheet = "enrich-ceb.xsl"  (no output type: the input's own is kept)
  and the parameters copCode, copName, dxpId.
-->
<xsl:stylesheet version="1.0" xmlns:xsl="http://www.w3.org/1999/XSL/Transform"
    xmlns:pg="urn:portgate:xpath" xmlns:ceb="http://www.chinaport.gov.cn/ceb"
    extension-element-prefixes="pg" exclude-result-prefixes="pg">
  <xsl:output method="xml" encoding="UTF-8" indent="no"/>

  <!-- Identity, without the usual select="@*|node()": that union is sorted into document order at every
       element, which made it the transform's largest cost. Attributes are copied as they are, except on
       the root, whose guid attribute is replaced. -->
  <xsl:template match="*">
    <xsl:copy><xsl:copy-of select="@*"/><xsl:apply-templates/></xsl:copy>
  </xsl:template>
  <xsl:template match="/*">
    <xsl:copy><xsl:apply-templates select="@*"/><xsl:apply-templates/></xsl:copy>
  </xsl:template>
  <xsl:template match="@*|text()|comment()|processing-instruction()">
    <xsl:copy/>
  </xsl:template>

  <!-- The item lists hold nothing this stylesheet changes: copied whole, which is several times faster in
       libxslt than walking them node by node. They are matched by name, not by a predicate on every
       element's name (libxslt would evaluate that predicate for each element of the document); a list
       not named here is still copied correctly, node by node. -->
  <xsl:template match="ceb:ArrivalList | ceb:DeliveryList | ceb:DepartureList | ceb:InventoryList | ceb:InvtRefundList
                       | ceb:OrderList | ceb:SummaryApplyList | ceb:SummaryResultList | ceb:WayBillList">
    <xsl:copy-of select="."/>
  </xsl:template>

  <xsl:template match="/*/@guid">
    <xsl:attribute name="guid"><xsl:value-of select="pg:guid()"/></xsl:attribute>
  </xsl:template>

  <xsl:template match="ceb:guid[substring(local-name(..), string-length(local-name(..)) - 3) = 'Head']">
    <xsl:copy><xsl:value-of select="pg:guid()"/></xsl:copy>
  </xsl:template>

  <xsl:template match="ceb:appTime">
    <xsl:copy><xsl:value-of select="pg:now('yyyyMMddHHmmss')"/></xsl:copy>
  </xsl:template>

  <xsl:template match="ceb:BaseTransfer/ceb:copCode">
    <xsl:copy><xsl:value-of select="pg:param('copCode')"/></xsl:copy>
  </xsl:template>
  <xsl:template match="ceb:BaseTransfer/ceb:copName">
    <xsl:copy><xsl:value-of select="pg:param('copName')"/></xsl:copy>
  </xsl:template>
  <xsl:template match="ceb:BaseTransfer/ceb:dxpId">
    <xsl:copy><xsl:value-of select="pg:param('dxpId')"/></xsl:copy>
  </xsl:template>
</xsl:stylesheet>
